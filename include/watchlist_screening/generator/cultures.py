"""Naming cultures: the name, birthplace and appearance pools people are drawn from.

Pure data. Notation, kept compact so the lists stay reviewable:
  given name / surname   "Latin"  or  "Latin|native script" (Cyrillic, Greek, Arabic)
  gendered surname       "male form/female form" (Kowalski/Kowalska, Ivanov|Иванов/Ivanova|Иванова)
  city                   "place of birth:ISO alpha-3 country"
Several cultures span countries so nationality, birthplace and name do not trivially agree.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Culture:
    key: str
    weight: float  # relative share of travellers and of wanted people
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    cities: tuple[str, ...]
    eyes: str  # eye-colour profile, see people.EYE_PROFILES
    height_offset_cm: float = 0.0
    middle_name_share: float = 0.15  # "Anna Maria", "Jean Paul"
    double_surname_share: float = 0.0  # Spanish/Portuguese two surnames


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


CULTURES: tuple[Culture, ...] = (
    Culture(
        key="english", weight=14, eyes="light",
        female=_split("Emma, Olivia, Sophie, Charlotte, Amelia, Jessica, Hannah, Sarah, Emily, "
                      "Lucy, Grace, Chloe, Rebecca, Laura, Megan, Siobhan, Aoife, Niamh, "
                      "Mary-Kate, Eleanor"),
        male=_split("James, Oliver, Jack, Harry, Thomas, William, George, Daniel, Samuel, Michael, "
                    "David, Christopher, Matthew, Liam, Seán, Patrick, Connor, Rhys, Callum, Eoin"),
        surnames=_split("Smith, Jones, Williams, Taylor, Brown, Davies, Evans, Wilson, Thomas, "
                        "Johnson, Roberts, Walker, Wright, Robinson, Thompson, O'Brien, O'Connor, "
                        "O'Sullivan, McCarthy, MacDonald, Fitzgerald, Murphy, Kelly, Smith-Jones, "
                        "Hughes, Edwards, Green, Hall, Wood, Clarke, Ó Súilleabháin, Bowes-Lyon"),
        cities=_split("London:GBR, Manchester:GBR, Birmingham:GBR, Leeds:GBR, Glasgow:GBR, "
                      "Liverpool:GBR, Bristol:GBR, Edinburgh:GBR, Cardiff:GBR, Belfast:GBR, "
                      "Dublin:IRL, Cork:IRL, Galway:IRL, New York:USA, Boston:USA, Toronto:CAN, "
                      "Sydney:AUS"),
    ),
    Culture(
        key="french", weight=10, eyes="mixed",
        female=_split("Camille, Léa, Chloé, Manon, Inès, Élodie, Hélène, Océane, Zoé, Amélie, "
                      "Margaux, Anaïs, Céline, Juliette, Marie-Claire, Françoise, Maëlle, Noémie"),
        male=_split("Jean-Pierre, François, Théo, Lucas, Hugo, Louis, Mathéo, Jérôme, Sébastien, "
                    "Étienne, Nicolas, Antoine, Rémi, Benoît, Gaël, Jean-Luc, Loïc, Cédric"),
        surnames=_split("Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Lefèvre, "
                        "Leroy, Moreau, Fontaine, Girard, Lefebvre, Mercier, Gauthier, Chevalier, "
                        "Bonnet, François, Lambert, Faure, Rousseau, Blanc, Guérin, Le Gall, "
                        "Lemaître, Dupont, Bouchard-Côté, Da Silva, Benoît"),
        cities=_split("Paris:FRA, Lyon:FRA, Marseille:FRA, Toulouse:FRA, Nice:FRA, Nantes:FRA, "
                      "Strasbourg:FRA, Bordeaux:FRA, Lille:FRA, Besançon:FRA, Genève:CHE, "
                      "Lausanne:CHE, Liège:BEL, Bruxelles:BEL, Montréal:CAN"),
    ),
    Culture(
        key="german", weight=9, eyes="light", height_offset_cm=1.5,
        female=_split("Anna, Lena, Hannah, Sophie, Marie, Johanna, Katharina, Lisa, Julia, Annika, "
                      "Sabine, Ursula, Jutta, Bärbel, Brigitte, Gisela, Ilse, Anne-Kathrin"),
        male=_split("Lukas, Maximilian, Felix, Jonas, Paul, Leon, Jürgen, Günter, Klaus, Stefan, "
                    "Tobias, Matthias, Jörg, Uwe, Björn, Karl-Heinz, Hans-Jürgen, Dieter"),
        surnames=_split("Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, "
                        "Schulz, Hoffmann, Schäfer, Koch, Bauer, Richter, Klein, Wolf, Schröder, "
                        "Neumann, Schwarz, Zimmermann, Braun, Krüger, Hofmann, Hartmann, Lange, "
                        "Köhler, Weiß, Groß, von Bülow, Müller-Lüdenscheidt, Strauß"),
        cities=_split("Berlin:DEU, Hamburg:DEU, München:DEU, Köln:DEU, Frankfurt am Main:DEU, "
                      "Stuttgart:DEU, Düsseldorf:DEU, Leipzig:DEU, Dresden:DEU, Nürnberg:DEU, "
                      "Wien:AUT, Graz:AUT, Zürich:CHE, Basel:CHE"),
    ),
    Culture(
        key="spanish", weight=9, eyes="mixed", height_offset_cm=-1.0, double_surname_share=0.6,
        female=_split("María, Lucía, Carmen, Sofía, Paula, Elena, Marta, Ana Isabel, María José, "
                      "Inés, Begoña, Nuria, Ximena, Valentina, Camila, Guadalupe, Ainhoa, Mónica"),
        male=_split("José, Antonio, Manuel, Francisco, Javier, David, Daniel, Carlos, Jesús, "
                    "Alejandro, Miguel Ángel, Juan Carlos, Andrés, Íñigo, Sergio, Álvaro, Raúl, "
                    "José Luis"),
        surnames=_split("García, Rodríguez, González, Fernández, López, Martínez, Sánchez, Pérez, "
                        "Gómez, Martín, Jiménez, Ruiz, Hernández, Díaz, Moreno, Álvarez, Muñoz, "
                        "Romero, Gutiérrez, Navarro, Núñez, Peña, Ortiz, Castaño, de la Cruz, "
                        "García-López, Ibáñez, Zúñiga"),
        cities=_split("Madrid:ESP, Barcelona:ESP, Valencia:ESP, Sevilla:ESP, Zaragoza:ESP, "
                      "Málaga:ESP, Bilbao:ESP, A Coruña:ESP, Ciudad de México:MEX, "
                      "Guadalajara:MEX, Bogotá:COL, Medellín:COL, Buenos Aires:ARG, Córdoba:ARG, "
                      "Lima:PER, Santiago:CHL"),
    ),
    Culture(
        key="portuguese", weight=4, eyes="mixed", height_offset_cm=-2.0, double_surname_share=0.5,
        female=_split("Ana, Beatriz, Inês, Mariana, Leonor, Joana, Conceição, Fernanda, Luíza, "
                      "Gabriela, Maria João, Letícia"),
        male=_split("João, José, Gonçalo, Tiago, Rodrigo, Duarte, António, Luís, Vinícius, Thiago, "
                    "Sebastião, João Pedro"),
        surnames=_split("Silva, Santos, Ferreira, Pereira, Oliveira, Costa, Rodrigues, Martins, "
                        "Jesus, Sousa, Fernandes, Gonçalves, Gomes, Lopes, Marques, Magalhães, "
                        "Araújo, Simões, Brandão, Conceição"),
        cities=_split("Lisboa:PRT, Porto:PRT, Braga:PRT, Coimbra:PRT, Faro:PRT, São Paulo:BRA, "
                      "Rio de Janeiro:BRA, Belo Horizonte:BRA, Salvador:BRA, Brasília:BRA, "
                      "Luanda:AGO"),
    ),
    Culture(
        key="italian", weight=6, eyes="mixed",
        female=_split("Giulia, Chiara, Francesca, Alessandra, Martina, Sara, Federica, Valentina, "
                      "Elisa, Giorgia, Maria Grazia, Ludovica"),
        male=_split("Marco, Giuseppe, Alessandro, Lorenzo, Matteo, Francesco, Niccolò, Andrea, "
                    "Luca, Giovanni, Gian Luca, Nicolò"),
        surnames=_split("Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, "
                        "Greco, Bruno, Gallo, Conti, De Luca, D'Angelo, Mancini, Lombardi, "
                        "Barbieri, Fontana, Santoro, Caruso, Dell'Acqua, Lo Russo"),
        cities=_split("Roma:ITA, Milano:ITA, Napoli:ITA, Torino:ITA, Palermo:ITA, Genova:ITA, "
                      "Bologna:ITA, Firenze:ITA, Bari:ITA, Catania:ITA, Lugano:CHE"),
    ),
    Culture(
        key="dutch", weight=4, eyes="light", height_offset_cm=4.0,
        female=_split("Sanne, Lotte, Fleur, Anouk, Femke, Eva, Noor, Julia, Lieke, Inge, Marieke"),
        male=_split("Daan, Sem, Bram, Lars, Thijs, Jeroen, Pieter, Joost, Maarten, Sjoerd, Wouter"),
        surnames=_split("de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, "
                        "Visser, Smit, Meijer, de Boer, Mulder, de Groot, Bos, Vos, Peters, "
                        "Hendriks, van Leeuwen, Dekker, van der Meer, IJzerman"),
        cities=_split("Amsterdam:NLD, Rotterdam:NLD, Den Haag:NLD, Utrecht:NLD, Eindhoven:NLD, "
                      "Groningen:NLD, Antwerpen:BEL, Gent:BEL, Paramaribo:SUR"),
    ),
    Culture(
        key="nordic", weight=4, eyes="light", height_offset_cm=2.5,
        female=_split("Ingrid, Astrid, Sigrid, Freja, Ida, Maja, Åsa, Sofie, Liv, Solveig, Björk, "
                      "Ása"),
        male=_split("Søren, Anders, Lars, Henrik, Mikkel, Jørgen, Åke, Björn, Magnus, Oskar, "
                    "Håkon, Þórður"),
        surnames=_split("Ørsted, Jensen, Nielsen, Hansen, Pedersen, Andersen, Johansson, "
                        "Andersson, Karlsson, Nilsson, Eriksson, Larsson, Løkke, Sørensen, Åberg, "
                        "Lindqvist, Ødegård, Håland, Strøm, Guðmundsdóttir"),
        cities=_split("København:DNK, Aarhus:DNK, Odense:DNK, Oslo:NOR, Bergen:NOR, Trondheim:NOR, "
                      "Stockholm:SWE, Göteborg:SWE, Malmö:SWE, Uppsala:SWE, Reykjavík:ISL, "
                      "Helsinki:FIN"),
    ),
    Culture(
        key="polish", weight=5, eyes="light",
        female=_split("Zofia, Małgorzata, Agnieszka, Katarzyna, Aleksandra, Joanna, Magdalena, "
                      "Łucja, Agata, Dorota, Urszula"),
        male=_split("Łukasz, Paweł, Michał, Krzysztof, Piotr, Tomasz, Jakub, Wojciech, Grzegorz, "
                    "Mateusz, Stanisław"),
        surnames=_split("Nowak, Kowalski/Kowalska, Wiśniewski/Wiśniewska, Wójcik, "
                        "Kamiński/Kamińska, Lewandowski/Lewandowska, Zieliński/Zielińska, "
                        "Szymański/Szymańska, Woźniak, Dąbrowski/Dąbrowska, Kozłowski/Kozłowska, "
                        "Mazur, Krawczyk, Grabowski/Grabowska, Pawłowski/Pawłowska, Król, "
                        "Jabłoński/Jabłońska, Wieczorek, Brzęczyszczykiewicz"),
        cities=_split("Warszawa:POL, Kraków:POL, Łódź:POL, Wrocław:POL, Poznań:POL, Gdańsk:POL, "
                      "Szczecin:POL, Lublin:POL, Katowice:POL, Białystok:POL"),
    ),
    Culture(
        key="czech", weight=2, eyes="light", height_offset_cm=1.0,
        female=_split("Jana, Tereza, Kateřina, Lucie, Veronika, Markéta, Zuzana, Eliška, Barbora, "
                      "Šárka"),
        male=_split("Jiří, Jan, Petr, Tomáš, Lukáš, Martin, Ondřej, Vojtěch, Jaroslav, Miroslav"),
        surnames=_split("Novák/Nováková, Svoboda/Svobodová, Novotný/Novotná, Dvořák/Dvořáková, "
                        "Černý/Černá, Procházka/Procházková, Kučera/Kučerová, Veselý/Veselá, "
                        "Horák/Horáková, Němec/Němcová, Pokorný/Pokorná, Růžička/Růžičková, "
                        "Beneš/Benešová, Fiala/Fialová"),
        cities=_split("Praha:CZE, Brno:CZE, Ostrava:CZE, Plzeň:CZE, Olomouc:CZE, "
                      "České Budějovice:CZE, Hradec Králové:CZE, Bratislava:SVK, Košice:SVK"),
    ),
    Culture(
        key="turkish", weight=4, eyes="mixed", height_offset_cm=-1.5,
        female=_split("Ayşe, Fatma, Zeynep, Elif, Emine, Hülya, Gül, Özlem, Şule, Merve, Gülşen"),
        male=_split("Mehmet, Mustafa, Ahmet, Ali, Hüseyin, İbrahim, İsmail, Yusuf, Murat, Ömer, "
                    "Çağlar"),
        surnames=_split("Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Yıldırım, Öztürk, Aydın, "
                        "Özdemir, Arslan, Doğan, Kılıç, Aslan, Çetin, Koç, Kurt, Özkan, Şimşek, "
                        "Güneş"),
        cities=_split("İstanbul:TUR, Ankara:TUR, İzmir:TUR, Bursa:TUR, Antalya:TUR, Adana:TUR, "
                      "Konya:TUR, Gaziantep:TUR, Trabzon:TUR, Diyarbakır:TUR, Berlin:DEU"),
    ),
    Culture(
        key="arabic", weight=7, eyes="dark", height_offset_cm=-2.0, middle_name_share=0.25,
        female=_split("Fatima|فاطمة, Aisha|عائشة, Mariam|مريم, Layla|ليلى, Noor|نور, Huda|هدى, "
                      "Salma|سلمى, Yasmin|ياسمين, Rania|رانيا, Amira|أميرة, Zainab|زينب"),
        male=_split("Mohammed|محمد, Ahmed|أحمد, Ali|علي, Omar|عمر, Youssef|يوسف, Khaled|خالد, "
                    "Hassan|حسن, Ibrahim|إبراهيم, Abdullah|عبد الله, Karim|كريم, Tariq|طارق, "
                    "Mustafa|مصطفى"),
        surnames=_split("Al-Hassan|الحسن, Al-Rashid|الرشيد, Haddad|حداد, Khalil|خليل, "
                        "Mansour|منصور, Nasser|ناصر, Saleh|صالح, Al-Masri|المصري, "
                        "Abdel-Rahman|عبد الرحمن, El-Sayed|السيد, Hamdan|حمدان, Aziz|عزيز, "
                        "Bakr|بكر, Farouk|فاروق, Al-Amin|الأمين"),
        cities=_split("Cairo:EGY, Alexandria:EGY, Riyadh:SAU, Jeddah:SAU, Amman:JOR, Baghdad:IRQ, "
                      "Damascus:SYR, Aleppo:SYR, Casablanca:MAR, Rabat:MAR, Dubai:ARE, Beirut:LBN, "
                      "Tunis:TUN"),
    ),
    Culture(
        key="russian", weight=4, eyes="light", height_offset_cm=0.5,
        female=_split("Anastasia|Анастасия, Olga|Ольга, Tatiana|Татьяна, Yekaterina|Екатерина, "
                      "Natalia|Наталья, Svetlana|Светлана, Irina|Ирина, Yulia|Юлия, Mariya|Мария, "
                      "Oksana|Оксана"),
        male=_split("Aleksandr|Александр, Dmitry|Дмитрий, Sergey|Сергей, Andrey|Андрей, "
                    "Alexey|Алексей, Ivan|Иван, Mikhail|Михаил, Nikolay|Николай, "
                    "Vladimir|Владимир, Yevgeny|Евгений"),
        surnames=_split("Ivanov|Иванов/Ivanova|Иванова, Smirnov|Смирнов/Smirnova|Смирнова, "
                        "Kuznetsov|Кузнецов/Kuznetsova|Кузнецова, Popov|Попов/Popova|Попова, "
                        "Vasiliev|Васильев/Vasilieva|Васильева, Petrov|Петров/Petrova|Петрова, "
                        "Sokolov|Соколов/Sokolova|Соколова, Fedorov|Фёдоров/Fedorova|Фёдорова, "
                        "Morozov|Морозов/Morozova|Морозова, Volkov|Волков/Volkova|Волкова, "
                        "Lebedev|Лебедев/Lebedeva|Лебедева, Shevchenko|Шевченко, "
                        "Kovalenko|Коваленко, Bondarenko|Бондаренко"),
        cities=_split("Moskva:RUS, Sankt-Peterburg:RUS, Novosibirsk:RUS, Yekaterinburg:RUS, "
                      "Kazan:RUS, Kyiv:UKR, Kharkiv:UKR, Odesa:UKR, Minsk:BLR, Almaty:KAZ"),
    ),
    Culture(
        key="greek", weight=2, eyes="mixed",
        female=_split("Maria|Μαρία, Eleni|Ελένη, Aikaterini|Αικατερίνη, Vasiliki|Βασιλική, "
                      "Sofia|Σοφία, Angeliki|Αγγελική, Dimitra|Δήμητρα, Georgia|Γεωργία"),
        male=_split("Georgios|Γεώργιος, Dimitrios|Δημήτριος, Konstantinos|Κωνσταντίνος, "
                    "Ioannis|Ιωάννης, Nikolaos|Νικόλαος, Panagiotis|Παναγιώτης, Christos|Χρήστος, "
                    "Vasileios|Βασίλειος"),
        surnames=_split("Papadopoulos|Παπαδόπουλος/Papadopoulou|Παπαδοπούλου, "
                        "Papadakis|Παπαδάκης/Papadaki|Παπαδάκη, Georgiou|Γεωργίου, "
                        "Oikonomou|Οικονόμου, Nikolaidis|Νικολαΐδης/Nikolaidou|Νικολαΐδου, "
                        "Karagiannis|Καραγιάννης/Karagianni|Καραγιάννη, "
                        "Vlachos|Βλάχος/Vlachou|Βλάχου, Pappas|Παππάς/Pappa|Παππά, "
                        "Konstantinidis|Κωνσταντινίδης/Konstantinidou|Κωνσταντινίδου, "
                        "Dimitriou|Δημητρίου"),
        cities=_split("Athina:GRC, Thessaloniki:GRC, Patra:GRC, Irakleio:GRC, Larisa:GRC, "
                      "Volos:GRC, Ioannina:GRC, Lefkosia:CYP, Lemesos:CYP"),
    ),
    Culture(
        key="south_asian", weight=7, eyes="dark", height_offset_cm=-5.0,
        female=_split("Priya, Ananya, Aishwarya, Lakshmi, Deepika, Kavya, Sunita, Pooja, Neha, "
                      "Ayesha, Farzana, Nusrat"),
        male=_split("Rahul, Arjun, Vikram, Sanjay, Amit, Rajesh, Suresh, Imran, Farhan, Venkatesh, "
                    "Karthik, Mohammad Ali"),
        surnames=_split("Sharma, Patel, Singh, Kumar, Gupta, Reddy, Iyer, Nair, Chowdhury, "
                        "Banerjee, Mukherjee, Khan, Ahmed, Hussain, Rao, Desai, Mehta, Joshi, "
                        "Siddiqui, Perera"),
        cities=_split("Mumbai:IND, Delhi:IND, Bengaluru:IND, Chennai:IND, Kolkata:IND, "
                      "Hyderabad:IND, Ahmedabad:IND, Pune:IND, Karachi:PAK, Lahore:PAK, Dhaka:BGD, "
                      "Colombo:LKA, Leicester:GBR"),
    ),
    Culture(
        key="chinese", weight=5, eyes="dark", height_offset_cm=-3.0, middle_name_share=0.0,
        female=_split("Wei, Fang, Xiuying, Jing, Min, Yan, Hui, Xiaoling, Mei, Lihua, Yuqing"),
        male=_split("Wei, Jun, Hao, Lei, Jian, Qiang, Yong, Tao, Zhiwei, Haoran, Zihan"),
        surnames=_split("Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, "
                        "Zhu, Hu, Guo, Lin, He, Ouyang"),
        cities=_split("Beijing:CHN, Shanghai:CHN, Guangzhou:CHN, Shenzhen:CHN, Chengdu:CHN, "
                      "Wuhan:CHN, Hangzhou:CHN, Xi'an:CHN, Nanjing:CHN, Taipei:TWN, Singapore:SGP, "
                      "Hong Kong:HKG"),
    ),
    Culture(
        key="vietnamese", weight=2, eyes="dark", height_offset_cm=-7.0, middle_name_share=0.0,
        female=_split("Thị Lan, Thị Hương, Thị Mai, Ngọc Anh, Thu Trang, Phương Linh, Thị Hà, "
                      "Hồng Nhung, Minh Châu, Thanh Hằng"),
        male=_split("Văn Minh, Văn Hùng, Đức Anh, Quốc Bảo, Minh Tuấn, Văn Thành, Hoàng Long, "
                    "Quang Huy, Tiến Dũng, Hữu Phước"),
        surnames=_split("Nguyễn, Trần, Lê, Phạm, Hoàng, Huỳnh, Phan, Vũ, Võ, Đặng, Bùi, Đỗ, Hồ, "
                        "Ngô, Dương, Lý"),
        cities=_split("Hà Nội:VNM, Thành phố Hồ Chí Minh:VNM, Hải Phòng:VNM, Đà Nẵng:VNM, "
                      "Cần Thơ:VNM, Huế:VNM, Nha Trang:VNM"),
    ),
    Culture(
        key="japanese", weight=2, eyes="dark", height_offset_cm=-5.0, middle_name_share=0.0,
        female=_split("Yuki, Sakura, Haruka, Aoi, Yui, Misaki, Emi, Kaori, Yōko"),
        male=_split("Haruto, Takeshi, Hiroshi, Kenji, Daiki, Shōta, Yūto, Ren, Ryūnosuke"),
        surnames=_split("Satō, Suzuki, Takahashi, Tanaka, Watanabe, Itō, Yamamoto, Nakamura, "
                        "Kobayashi, Katō, Yoshida, Yamada, Ōta"),
        cities=_split("Tōkyō:JPN, Ōsaka:JPN, Yokohama:JPN, Nagoya:JPN, Sapporo:JPN, Kyōto:JPN, "
                      "Fukuoka:JPN, Kōbe:JPN"),
    ),
    Culture(
        key="west_african", weight=4, eyes="dark", height_offset_cm=0.5,
        female=_split("Chiamaka, Ngozi, Adaeze, Funmilayo, Abena, Akosua, Aminata, Fatou, "
                      "Oluwaseun, Yewande, Mariama"),
        male=_split("Chukwuemeka, Oluwaseun, Kwame, Kofi, Babajide, Ibrahim, Moussa, Mamadou, "
                    "Emeka, Tunde, Cheikh"),
        surnames=_split("Okonkwo, Adebayo, Okafor, Adeyemi, Mensah, Owusu, Boateng, Diallo, "
                        "Ndiaye, Traoré, Koné, Ouédraogo, Nwosu, Eze, Balogun, Oyelaran-Smith, "
                        "N'Diaye"),
        cities=_split("Lagos:NGA, Abuja:NGA, Ibadan:NGA, Kano:NGA, Enugu:NGA, Accra:GHA, "
                      "Kumasi:GHA, Dakar:SEN, Abidjan:CIV, Bamako:MLI, Ouagadougou:BFA"),
    ),
)

# Countries whose nationality people of any culture often hold (naturalised, born abroad).
DIASPORA_COUNTRIES: tuple[str, ...] = (
    "GBR", "FRA", "DEU", "USA", "CAN", "ESP", "NLD", "BEL", "CHE", "SWE", "AUS", "IRL", "ITA",
)
